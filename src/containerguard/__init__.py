"""ContainerGuard: container security through the whole lifecycle.

Everything the CLI, the agent and the server do is a library call first; see
``containerguard.api`` for the stable entry points.
"""

__version__ = "0.1.0"
