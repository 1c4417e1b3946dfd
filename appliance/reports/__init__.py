"""Reports (§8, §9.1, §7.1): activity, journal filling, progress and attendance, the
summary sheet and the director's monthly control."""
