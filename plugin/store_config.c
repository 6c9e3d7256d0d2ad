/* placeholder: replaced by the configuration resolver */
#include <config.h>
#include "store.h"
int
store_config_resolve (struct store_config *config,
                      struct store_config_owned *owned)
{
  return 0;
}
void
store_config_free_owned (struct store_config_owned *owned)
{
}
