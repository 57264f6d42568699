"""Finding policies: Chinese search, industry words people use, recommendation; and the
catalogue's filters (which policies could apply to a region and an industry), used by the
pages, the API and the CLI alike."""

from huiqi.discover.catalog import could_apply, filter_policies, region_label, region_prefix, sort_key

__all__ = ["could_apply", "filter_policies", "region_label", "region_prefix", "sort_key"]
