from aegen.cli import main

raise SystemExit(main())
