"""awssim: a faithful local AWS simulator for secfaas tests (see ../README.md)."""
