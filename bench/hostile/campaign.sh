#!/usr/bin/env bash
# The hostile-client campaign (tests/Kirisame.Interop.Tests/Security/Campaign) for longer than CI's 40 s.
#   bench/hostile/campaign.sh [SECONDS] [SEED]
# SECONDS defaults to 600; SEED to a random one, printed in the output so that a run can be replayed.
# KIRISAME_CAMPAIGN_CASES=N,M,… replays single cases of that seed instead of running for a time.
set -euo pipefail
cd "$(dirname "$0")/../.."

export KIRISAME_CAMPAIGN_SECONDS="${1:-600}"
if [ -n "${2:-}" ]; then
  export KIRISAME_CAMPAIGN_SEED="$2"
fi

dotnet build Kirisame.slnx -c Release --nologo -v quiet
dotnet test tests/Kirisame.Interop.Tests -c Release --no-build --nologo \
  --filter "FullyQualifiedName~Security.Campaign.HostileCampaignTests" \
  --logger "console;verbosity=detailed"
