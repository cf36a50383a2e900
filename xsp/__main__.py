from xsp.main import main

raise SystemExit(main())
