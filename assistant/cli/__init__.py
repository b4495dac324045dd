"""The command line: ``assistant build | add | remove | ask | eval | serve | check``."""
