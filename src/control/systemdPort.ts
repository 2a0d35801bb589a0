import type { JobMode, UnitFile, UnitFileChange, UnitProperties } from '../systemd/manager.js';
import type { SystemdLink } from '../systemd/systemdLink.js';
import type { SystemdSession } from '../systemd/systemdSession.js';
import type { JobRunner } from './unitQueue.js';

/** The Manager methods that enqueue a job on a unit (org.freedesktop.systemd1(5), "Methods"). */
export type EnqueueMethod = 'StartUnit' | 'StopUnit' | 'RestartUnit';

/** What control reads of systemd, in systemd's words (org.freedesktop.systemd1(5)). */
export interface UnitReads {
  /** Every property of the unit, on all its interfaces (Properties.GetAll). */
  getUnitProperties(unit: string): Promise<UnitProperties>;
  /** One property of one of the unit's interfaces (Properties.Get), e.g. the Service's `Type`. */
  getUnitProperty(unit: string, iface: string, name: string): Promise<unknown>;
  /** Unit files in the search path whose names match one of the globs, in every state (ListUnitFilesByPatterns). */
  listUnitFilesByPatterns(patterns: string[]): Promise<UnitFile[]>;
  /** One of the Manager's properties, e.g. `UnitPath` (the unit search path, highest priority first). */
  getManagerProperty(name: string): Promise<unknown>;
}

/** What control changes in systemd's unit files: `systemctl enable`, `disable`, `daemon-reload`. */
export interface UnitFileWrites {
  /** EnableUnitFiles (see SystemdManager): the symlinks the [Install] section asks for. */
  enableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }>;
  /** DisableUnitFiles (see SystemdManager): every symlink named like the unit in the configuration directory. */
  disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]>;
  /** Reload: daemon-reload, so the manager acts on the changed symlinks. */
  reload(): Promise<void>;
}

/**
 * One session with systemd as control sends a job on it: a job, its JobRemoved and the signals
 * about the unit belong to the session it was sent on, and are lost with it.
 */
export interface JobSession extends UnitReads, UnitFileWrites {
  /** Enqueues a job on the unit; resolves with the job's object path, not with its completion. */
  enqueue(method: EnqueueMethod, unit: string, mode: JobMode): Promise<string>;
  /** Pairs this session's jobs with their JobRemoved. */
  readonly jobs: JobRunner;
  /** Calls `callback` when this session ends (at once if it has); returns how to stop listening. */
  onEnd(callback: (error: Error) => void): () => void;
}

/**
 * Everything control asks of systemd: the reads, on the current session, and the session to send
 * a job on. Nothing else of the bus reaches control, so the controller's rules can be specified
 * against a fake (test/unit/fakeSystemd.ts) as well as proven on a real systemd.
 */
export interface SystemdPort extends UnitReads, UnitFileWrites {
  /** The current session; UNAVAILABLE (BusUnavailableError) when there is none. */
  session(): JobSession;
}

/** A SystemdPort's calls, each made on the session current when it is asked. */
export abstract class OnCurrentSession implements SystemdPort {
  abstract session(): JobSession;

  getUnitProperties(unit: string): Promise<UnitProperties> {
    return this.session().getUnitProperties(unit);
  }

  getUnitProperty(unit: string, iface: string, name: string): Promise<unknown> {
    return this.session().getUnitProperty(unit, iface, name);
  }

  listUnitFilesByPatterns(patterns: string[]): Promise<UnitFile[]> {
    return this.session().listUnitFilesByPatterns(patterns);
  }

  getManagerProperty(name: string): Promise<unknown> {
    return this.session().getManagerProperty(name);
  }

  enableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }> {
    return this.session().enableUnitFiles(files, runtime, force);
  }

  disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    return this.session().disableUnitFiles(files, runtime);
  }

  reload(): Promise<void> {
    return this.session().reload();
  }
}

/** The SystemdPort of a SystemdLink: each call goes to the link's current session. */
export class LinkPort extends OnCurrentSession {
  /** One JobSession per SystemdSession, so that however many windows wait, each session has one `closed` listener. */
  private readonly sessions = new WeakMap<SystemdSession, LinkSession>();

  constructor(private readonly link: SystemdLink) {
    super();
  }

  session(): JobSession {
    const session = this.link.session();
    let port = this.sessions.get(session);
    if (!port) {
      port = new LinkSession(session);
      this.sessions.set(session, port);
    }
    return port;
  }
}

class LinkSession implements JobSession {
  /** What to call when the session ends; one `closed` listener for all (Node warns past 10 as a likely leak). */
  private ends: Set<(error: Error) => void> | undefined;

  constructor(private readonly session: SystemdSession) {}

  get jobs(): JobRunner {
    return this.session.jobs;
  }

  enqueue(method: EnqueueMethod, unit: string, mode: JobMode): Promise<string> {
    return this.session.manager[method](unit, mode);
  }

  getUnitProperties(unit: string): Promise<UnitProperties> {
    return this.session.manager.getUnitProperties(unit);
  }

  getUnitProperty(unit: string, iface: string, name: string): Promise<unknown> {
    return this.session.manager.getUnitProperty(unit, iface, name);
  }

  listUnitFilesByPatterns(patterns: string[]): Promise<UnitFile[]> {
    return this.session.manager.ListUnitFilesByPatterns([], patterns);
  }

  getManagerProperty(name: string): Promise<unknown> {
    return this.session.manager.getManagerProperty(name);
  }

  enableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }> {
    return this.session.manager.EnableUnitFiles(files, runtime, force);
  }

  disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    return this.session.manager.DisableUnitFiles(files, runtime);
  }

  reload(): Promise<void> {
    return this.session.manager.Reload();
  }

  onEnd(callback: (error: Error) => void): () => void {
    if (!this.session.isOpen) {
      callback(new Error('it ended as the job finished'));
      return () => undefined;
    }
    if (!this.ends) {
      const ends = new Set<(error: Error) => void>();
      this.ends = ends;
      this.session.once('closed', (error: Error) => {
        for (const call of ends) call(error);
        ends.clear();
      });
    }
    const ends = this.ends;
    ends.add(callback);
    return () => ends.delete(callback);
  }
}
