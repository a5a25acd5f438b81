"""`odhelper demo`: a synthetic LabelImg dataset and the whole tool run on it."""
