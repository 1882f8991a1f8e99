"""Customer metrics and predicted 90-day value, from each identity's journal."""
