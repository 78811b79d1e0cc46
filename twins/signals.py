"""Signals other apps listen to.

``risk_band_changed`` is sent after the transaction that changed a bed's
NEWS2 band commits, with the keyword arguments ``bed`` (a ``Bed``),
``old_band`` (None for a twin's first score) and ``new_band`` (one of the
``twins.news2.Band`` values). Receivers run in the process that committed
the change, so they should queue work rather than do it.
"""

from django.dispatch import Signal

risk_band_changed = Signal()
