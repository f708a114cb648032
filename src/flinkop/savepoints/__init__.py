"""The savepoint manager: manual (nonce) and periodic savepoints and checkpoints of FlinkDeployments,
legacy trigger tracking in the status, and the snapshot history limits.

* :mod:`.manager` does the I/O (:class:`SavepointManager`);
* :mod:`.triggers`, :mod:`.schedule` and :mod:`.cron` decide when to trigger (pure);
* :mod:`.retention` picks what the history limits remove (pure);
* :mod:`.legacy` and :mod:`.nonces` keep ``savepointInfo``/``checkpointInfo`` and the handled nonces in
  lastReconciledSpec (pure); :mod:`.settings` reads the configuration.
"""

from flinkop.savepoints.legacy import record_savepoint, savepoint_pending
from flinkop.savepoints.manager import SavepointManager
from flinkop.savepoints.settings import snapshot_resources_enabled

__all__ = ["SavepointManager", "record_savepoint", "savepoint_pending", "snapshot_resources_enabled"]
