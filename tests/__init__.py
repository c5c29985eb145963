"""The test suite; a package, so that its modules share :mod:`tests.repository` however pytest is run."""
