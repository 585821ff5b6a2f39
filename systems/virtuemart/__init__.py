"""Facts about VirtueMart 4 databases both directions need: its config format and its active
languages (NOTES 1, 2). The catalogue consumer and the order producer read them alike."""
