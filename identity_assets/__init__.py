"""identity_assets: raw customer-event exports to a resolved identity graph, journals and segments."""
