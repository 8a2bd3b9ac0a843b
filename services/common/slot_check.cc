#include "common/slot_check.h"

namespace govreport::redis {

const char kSlotCheckLua[] = R"lua(
local function slot_unsettled(keys)
  local here = redis.pcall('EXISTS', unpack(keys))
  if type(here) == 'table' and here.err then
    return redis.error_reply('TRYAGAIN the slot is migrating: ' .. here.err)
  end
  return nil
end
)lua";

}  // namespace govreport::redis
