"""The producer: publishes numbered JSON messages to an SNS topic found or created by name."""
