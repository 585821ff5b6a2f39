"""VirtueMart 4.4 (Joomla 5) shop kind."""
