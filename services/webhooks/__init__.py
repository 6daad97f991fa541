"""An agency's webhook subscriptions: made, changed, rotated, enabled and deleted. What is sent
to them, and when, is `delivery/`'s business."""
