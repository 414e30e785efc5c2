from ecom_growth.cli import main

raise SystemExit(main())
