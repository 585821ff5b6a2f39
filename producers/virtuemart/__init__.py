"""VirtueMart 4 as a shop source: its orders to the ERP (``kind.py`` is what pyproject.toml
registers under ``shopbridge.shop_sources``)."""
