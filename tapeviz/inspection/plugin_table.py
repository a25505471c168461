"""Every gradient plugin as plain data: what ``tapeviz plugins`` prints and the inspector lists."""


def plugin_table():
    """One dict per plugin: name, version, source, broken and its error, a warning (registered nothing,
    slow import), and the op types it brings."""
    from tapeviz.core import plugins, registry

    registry.ensure_loaded()
    return [{"name": p.name, "version": p.version, "source": p.source, "broken": p.broken, "error": p.error,
             "warning": p.warning,
             "gradients": sorted(p.op_types), "not_differentiable": sorted(p.not_differentiable),
             "new_ops": sorted(p.new_ops), "overrides": sorted(p.overrides),
             "forward_rules": sorted(p.forward_rules)} for p in plugins.plugins]
