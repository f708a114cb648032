"""A small async controller runtime: informers over list+watch, rate-limited work queues,
controllers, Lease leader election, an event recorder and a manager that owns them all."""

from flinkop.runtime.cache import Cache, object_key
from flinkop.runtime.client import ApiError, Conflict, Gone, Invalid, NotFound, new_api_client
from flinkop.runtime.controller import Controller, Result, SkipObject, owner_keys
from flinkop.runtime.events import EventRecorder
from flinkop.runtime.informer import Handler, InformerFactory, SharedInformer
from flinkop.runtime.kube import Kube, Resource
from flinkop.runtime.leader import LeaderElector
from flinkop.runtime.manager import LeaderElectionConfig, Manager
from flinkop.runtime.workqueue import WorkQueue

__all__ = [
    "ApiError",
    "Cache",
    "Conflict",
    "Controller",
    "EventRecorder",
    "Gone",
    "Handler",
    "InformerFactory",
    "Invalid",
    "Kube",
    "LeaderElectionConfig",
    "LeaderElector",
    "Manager",
    "NotFound",
    "Resource",
    "Result",
    "SharedInformer",
    "SkipObject",
    "WorkQueue",
    "new_api_client",
    "object_key",
    "owner_keys",
]
