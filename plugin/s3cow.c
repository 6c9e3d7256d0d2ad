/* placeholder: replaced by the plugin core */
