from flinkop.cli import main

raise SystemExit(main())
