"""Dataset stages: read and validate LabelImg XML, split, write TFRecords."""
