"""WooCommerce connector over the REST API `wc/v3`."""
