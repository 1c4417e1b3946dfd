"""Backups, printing and the year-end archive (BagIt, minisign, age) on removable media."""
