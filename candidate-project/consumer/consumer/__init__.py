"""The consumer: long-polls an SQS queue, logs each message, deletes only what it handled."""
