package io.boxlite.agent;

/** Options of {@link AgentClient#copyIn} and {@link AgentClient#copyOut}. */
public enum CopyOption {
    /** Copy-in: create the destination directory and its parents when missing. */
    CREATE_DIRECTORIES,
    /** Copy-in: fail instead of replacing an existing file (directories are merged). */
    NO_OVERWRITE,
    /** Copy-out: when the source is a symlink, archive what it points to. */
    FOLLOW_SYMLINK
}
