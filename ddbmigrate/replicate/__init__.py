"""Ongoing replication: the source's DynamoDB Streams replayed into the target from the export time.

One concept per module: :mod:`.records` (a change, from a Lambda event or ``GetRecords``),
:mod:`.applier` (cut-off, last change per key, mapping, the sink), and the two drivers that feed
it — the Lambda handler and the poller — with their checkpoints. docs/replication.md says what is
guaranteed and why.
"""
