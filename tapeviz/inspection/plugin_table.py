"""Every gradient plugin as plain data: what ``tapeviz plugins`` prints and the inspector lists."""


def plugin_table():
    """One dict per plugin: name, version, source, broken and its error, and the op types it brings."""
    from tapeviz.core import plugins, registry

    registry.ensure_loaded()
    return [{"name": p.name, "version": p.version, "source": p.source, "broken": p.broken, "error": p.error,
             "gradients": sorted(p.op_types), "not_differentiable": sorted(p.not_differentiable),
             "new_ops": sorted(p.new_ops), "overrides": sorted(p.overrides)} for p in plugins.plugins]
