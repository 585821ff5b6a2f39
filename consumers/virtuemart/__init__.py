"""VirtueMart 4.4 (Joomla 5) as a shop kind: the catalogue consumer (issue 11)."""
