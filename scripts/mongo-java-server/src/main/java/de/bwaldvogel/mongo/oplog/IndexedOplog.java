// In the server's own package for its package-private OplogClock.
package de.bwaldvogel.mongo.oplog;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.AbstractCursor;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The oplog of mongo-java-server 1.46.0 (CollectionBackedOplog), kept in a map ordered by time
 * instead of a collection: a read of a change stream starts at its position, as MongoDB's does,
 * instead of scanning and sorting the whole oplog (the seed of a large catalog included), and an
 * update event's current document is looked up by `_id` through the collection's index instead of
 * a scan. The events are those of 1.46.0, except that an update's documentKey is `{_id}` (1.46.0
 * gives the update itself). A read of a stream without events can wait for one ({@link #awaitAfter}).
 * Resuming is as on MongoDB: a resume point from before this server started (another server's: the
 * data and oplog are in memory) is refused as MongoDB refuses one it no longer has, and the stream of
 * a collection dropped and created again before the resume point resumes (1.46.0 resumed from any
 * point, and answered with an invalidate whenever the collection had ever been dropped before it).
 */
public final class IndexedOplog implements Oplog {
  private final ConcurrentSkipListMap<BsonTimestamp, Document> entries = new ConcurrentSkipListMap<>();
  private final OplogClock clock;
  private final MongoBackend backend;
  private final CursorRegistry cursors;
  private final UUID ui = UUID.randomUUID();
  /** Before every entry of this server's oplog. */
  private final BsonTimestamp started = new BsonTimestamp(Instant.now(), 0);

  public IndexedOplog(MongoBackend backend, CursorRegistry cursors) {
    this.backend = backend;
    this.cursors = cursors;
    this.clock = new OplogClock(backend.getClock());
  }

  /** The time of the last entry (the server's start when there is none). */
  public BsonTimestamp lastTime() {
    var last = entries.lastEntry();
    return last == null ? started : last.getKey();
  }

  /** Waits until an entry after `time` is written or `deadlineNanos` passes; true if one was written. */
  public synchronized boolean awaitAfter(BsonTimestamp time, long deadlineNanos) throws InterruptedException {
    while (lastTime().equals(time)) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) return false;
      wait(left / 1_000_000, (int) (left % 1_000_000));
    }
    return true;
  }

  // One at a time: an entry is in the map before a later time is taken, so no read passes over one.
  private synchronized void append(OperationType type, String namespace, String field, Document o, Document o2) {
    Document entry = new Document("ts", clock.incrementAndGet()).append("t", 1L).append("h", 0L).append("v", 2L)
        .append("op", type.getCode()).append("ns", namespace).append("ui", ui).append("wall", clock.instant())
        .append(field, o);
    if (o2 != null) entry.append("o2", o2);
    entries.put((BsonTimestamp) entry.get("ts"), entry);
    notifyAll();
  }

  @Override
  public void handleInsert(String namespace, List<Document> documents) {
    for (Document document : documents) append(OperationType.INSERT, namespace, "o", document.cloneDeeply(), null);
  }

  @Override
  public void handleUpdate(String namespace, Document selector, Document update, List<Object> ids) {
    for (Object id : ids) append(OperationType.UPDATE, namespace, "o", update, new Document("_id", id));
  }

  @Override
  public void handleDelete(String namespace, Document query, List<Object> ids) {
    for (Object id : ids) append(OperationType.DELETE, namespace, "o", new Document("_id", id), null);
  }

  @Override
  public void handleDropCollection(String namespace) {
    String database = Utils.getDatabaseNameFromFullName(namespace);
    append(OperationType.COMMAND, database + ".$cmd", "o", new Document("drop", Utils.getCollectionNameFromFullName(namespace)), null);
  }

  @Override
  public Cursor createCursor(Document changeStream, String namespace, Aggregation aggregation) {
    Document startAfter = (Document) changeStream.get("startAfter");
    Document resumeAfter = (Document) changeStream.get("resumeAfter");
    BsonTimestamp startAt = (BsonTimestamp) changeStream.get("startAtOperationTime");
    OplogPosition start;
    if (startAfter != null) {
      start = OplogPosition.fromDocument(startAfter);
    } else if (resumeAfter != null) {
      start = OplogPosition.fromDocument(resumeAfter);
      if (new OplogPosition(started).isAfter(start))
        throw new MongoServerError(286, "ChangeStreamHistoryLost", "Resume of change stream was not possible, as the resume point may no longer be in the oplog");
    } else if (startAt != null) {
      start = new OplogPosition(startAt).inclusive();
    } else {
      start = new OplogPosition(clock.now());
    }
    StreamCursor cursor = new StreamCursor(cursors.generateCursorId(), changeStream, namespace, aggregation, start);
    cursors.add(cursor);
    return cursor;
  }

  /**
   * A stream's cursor. Its position moves past every entry it has looked at, of its collection or
   * not (1.46.0's moves only past its own events), so a read of a stream whose collection has no
   * changes does not look again at the entries of the others.
   */
  private final class StreamCursor extends AbstractCursor {
    private final Document changeStream;
    private final String namespace;
    private final Aggregation aggregation;
    private BsonTimestamp position;
    private boolean inclusive;

    StreamCursor(long id, Document changeStream, String namespace, Aggregation aggregation, OplogPosition start) {
      super(id);
      this.changeStream = changeStream;
      this.namespace = namespace;
      this.aggregation = aggregation;
      this.position = timeOf(start);
      this.inclusive = new OplogPosition(position).isAfter(start);
    }

    @Override
    public boolean isEmpty() {
      return false;
    }

    @Override
    public synchronized List<Document> takeDocuments(int limit) {
      BsonTimestamp[] seen = {null};
      Stream<Document> stream = aggregation.runStagesAsStream(entries.tailMap(position, inclusive).values().stream()
          .peek(e -> seen[0] = (BsonTimestamp) e.get("ts"))
          .filter(e -> inNamespace(e, namespace))
          .map(e -> event(e, changeStream)));
      // As 1.46.0: a batch size of 0 is no limit.
      List<Document> events = (limit > 0 ? stream.limit(limit) : stream).collect(Collectors.toList());
      if (limit > 0 && events.size() == limit) {
        position = timeOf(OplogPosition.fromDocument((Document) events.get(limit - 1).get("_id")));
        inclusive = false;
      } else if (seen[0] != null) {
        // Every entry up to the end of the oplog as it was read.
        position = seen[0];
        inclusive = false;
      }
      return events;
    }
  }

  private static BsonTimestamp timeOf(OplogPosition position) {
    return new BsonTimestamp(Long.parseUnsignedLong(position.toHexString(), 16));
  }

  private static boolean inNamespace(Document entry, String namespace) {
    String ns = (String) entry.get("ns");
    return ns.equals(namespace) || (Utils.getDatabaseNameFromFullName(ns).equals(Utils.getDatabaseNameFromFullName(namespace))
        && Utils.getCollectionNameFromFullName(ns).equals("$cmd"));
  }

  private Document event(Document entry, Document changeStream) {
    OperationType type = OperationType.fromCode(entry.get("op").toString());
    BsonTimestamp ts = (BsonTimestamp) entry.get("ts");
    Document o = (Document) entry.get("o");
    Document event = new Document("_id", new Document("_data", new OplogPosition(ts).toHexString()));
    switch (type) {
      case INSERT:
        return event.append("operationType", type.getDescription()).append("fullDocument", o)
            .append("documentKey", new Document("_id", o.get("_id"))).append("clusterTime", ts);
      case DELETE:
        return event.append("operationType", type.getDescription()).append("fullDocument", null)
            .append("documentKey", o).append("clusterTime", ts);
      case UPDATE: {
        Document key = (Document) entry.get("o2");
        Document current = "updateLookup".equals(changeStream.get("fullDocument")) ? lookUp((String) entry.get("ns"), key) : null;
        return event.append("operationType", type.getDescription()).append("fullDocument", current != null ? current : delta(o))
            .append("documentKey", key).append("clusterTime", ts);
      }
      case COMMAND:
        return event.append("operationType", o.keySet().iterator().next()).append("clusterTime", ts);
      default:
        throw new IllegalArgumentException("Unexpected operation type: " + type);
    }
  }

  private Document lookUp(String namespace, Document key) {
    MongoCollection<?> collection = backend.resolveDatabase(Utils.getDatabaseNameFromFullName(namespace))
        .resolveCollection(Utils.getCollectionNameFromFullName(namespace), true);
    Iterator<Document> found = collection.handleQuery(key).iterator();
    return found.hasNext() ? found.next() : null;
  }

  private static Document delta(Document update) {
    Document delta = new Document();
    if (update.get("$set") instanceof Document set) delta.appendAll(set);
    if (update.get("$unset") instanceof Document unset) delta.appendAll(unset);
    return delta;
  }
}
