"""Import-path compatibility layers for code written against other NAS libraries."""
