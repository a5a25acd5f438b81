from odhelper.cli import main

raise SystemExit(main())
