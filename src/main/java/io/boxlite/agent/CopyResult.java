package io.boxlite.agent;

/**
 * What a copy moved.
 *
 * @param entries archive members (files, directories, links)
 * @param bytes regular-file content bytes
 */
public record CopyResult(long entries, long bytes) {
}
