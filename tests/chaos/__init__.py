"""Herald's fault-injection suite: real service processes under a steady load, one
fault per trial (service kills and pauses; broker and database restarts when allowed),
then a check of everything clients were told against what the system serves."""
