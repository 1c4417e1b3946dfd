"""Sync with АСУ РСО: the outbox worker, upstream adapters and the NetSchool emulator.

Contract: journal writes enqueue `OutboxEntry` rows in the same transaction
(`appliance.db.write`); this package drains them upstream.
"""
