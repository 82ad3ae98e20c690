from marginrank.cli.main import main

raise SystemExit(main())
