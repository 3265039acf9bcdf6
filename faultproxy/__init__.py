"""faultproxy: an operation-aware HTTP fault proxy in front of an AWS emulator (issue 9, item 2).

Why it exists: the fault catalogue needs single AWS operations to fail (throttling on SNS Publish, HTTP 500 on SQS
DeleteMessageBatch, a partial batch failure) at a given rate, while every other call works. LocalStack's chaos API is
a paid feature and moto has none, so this small proxy sits between the services and the emulator, recognises the
operation of each request (query protocol ``Action=``, JSON protocol ``X-Amz-Target``) and injects the faults the
control API asked for; everything else is passed through unchanged. Standard library only, so its image needs no pip.
"""
