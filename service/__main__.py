"""``python -m service`` runs the ``oauth-apps`` command."""

from service.cli import main

raise SystemExit(main())
