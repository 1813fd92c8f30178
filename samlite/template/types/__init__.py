"""One module per resource type (or per small family of types that share one model object).

Each module declares a `base.ResourceType` handler (its schema fragment, physical-name rule,
Ref/GetAtt, SAM expansion, checks and model assembly) and registers it with
`registry.register`. The registry imports every module of this package on first use, so adding
a type is adding one module here. See docs/architecture.md, "How to add a resource type".
"""
