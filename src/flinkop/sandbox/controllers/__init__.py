"""The sandbox cluster's controller manager: Deployment -> ReplicaSet -> Pods, and Endpoints for
Services, as kube-controller-manager runs them, built on flinkop's own controller runtime."""

from flinkop.sandbox.controllers.manager import ControllerManager, build_controller_manager

__all__ = ["ControllerManager", "build_controller_manager"]
