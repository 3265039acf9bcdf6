"""Modules both services run: health server, process lifecycle, AWS clients, env config, JSON logs, contract.

Master copy. hack/sync-shared copies this folder into candidate-project/producer/shared and
candidate-project/consumer/shared (each image is built from its own folder); edit only here.
"""
