"""``python -m monitor`` runs the ``drift-monitor`` command line."""

from monitor.cli import main

main()
