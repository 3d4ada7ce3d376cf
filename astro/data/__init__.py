"""Compact physical tables read by astro at run time (see README.md in this folder)."""
