"""identity_assets: raw customer-event exports to an identity graph, journals and segments."""
