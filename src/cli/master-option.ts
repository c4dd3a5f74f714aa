// `--master` on client commands: one replica's URL, or every replica's (repeat the flag or separate
// URLs with commas). Clients follow the 307s of standbys to the leader and try the next replica
// when one is down, so listing them all keeps a command working through a leader failover.
import type { Command } from 'commander';
import { defaultMasterUrl } from '../client/master-client.ts';

const HELP_TAIL = 'repeat or comma-separate to list every replica ($SPILLWAY_MASTER)';

/** Adds `--master <url>`; the value is a comma-separated list of the URLs given (or the default). */
export function addMasterOption(cmd: Command, what = 'master URL'): Command {
  const fallback = defaultMasterUrl();
  // Commander hands the default to the first occurrence as `previous`: the first --master replaces
  // it — told by having seen one, not by its value (a --master equal to the default is still given).
  let given = false;
  const collect = (value: string, previous: string): string => {
    const first = !given;
    given = true;
    return first ? value : `${previous},${value}`;
  };
  return cmd.option('--master <url>', `${what}; ${HELP_TAIL}`, collect, fallback);
}
