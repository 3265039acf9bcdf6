"""Test-side library of the resiliency lab (not shipped in the images).

Modules: ``cluster`` (which cluster, images in), ``kube`` (kubectl on pytest-kubernetes, waits), ``probes`` (deadlines
from probe settings), ``deploy`` (the lab in one namespace), ``aws`` (boto3 via port-forward), ``liveness`` (the four
liveness faults), ``artifacts`` (evidence of failures), and the fault catalogue's ``ledger``, ``timeline``, ``report``.
"""
