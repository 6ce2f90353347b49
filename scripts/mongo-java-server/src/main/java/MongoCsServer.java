// mongo-java-server with its oplog on, so it answers change streams (`$changeStream`), for the tests
// of the change-stream follower. Usage: java -jar mongo-cs-server.jar <port>. Binds 127.0.0.1 only;
// all data is in memory and gone when it stops. Stops on SIGTERM / SIGINT.
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import de.bwaldvogel.mongo.oplog.OplogPosition;
import io.netty.channel.Channel;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.util.List;

public final class MongoCsServer {
  // The backend's default (3.6, wire version 7) is refused by the Node.js driver 7.x, which needs
  // at least wire version 9; the server claims 5.0 (wire version 13), which the driver accepts.
  private static final MongoVersion VERSION = new MongoVersion() {
    @Override
    public List<Integer> getVersionArray() {
      return List.of(5, 0, 0);
    }

    @Override
    public int getWireVersion() {
      return 13;
    }
  };

  /**
   * The memory backend with an oplog whose update events name the updated document, and whose
   * change-stream batches carry a postBatchResumeToken as MongoDB's do: without it a stream that
   * has seen no event has no resume token, and the driver keeps an old one after a batch of events.
   */
  static final class Backend extends MemoryBackend {
    private final Set<Long> changeStreamCursors = ConcurrentHashMap.newKeySet();
    /** Before every entry of this server's oplog (its data is in memory: older positions are another server's). */
    private final BsonTimestamp started = new BsonTimestamp(Instant.now(), 0);

    @Override
    public Document handleCommand(Channel channel, String database, String command, Document query) {
      boolean opens = command.equals("aggregate") && query.get("pipeline") instanceof List<?> stages && !stages.isEmpty()
          && stages.get(0) instanceof Document first && first.containsKey("$changeStream");
      boolean continues = command.equals("getMore") && query.get("getMore") instanceof Long id && changeStreamCursors.contains(id);
      if (!opens && !continues) return super.handleCommand(channel, database, command, query);
      // Read before the batch is made: every event up to it is then in the batch, or not this stream's.
      BsonTimestamp before = lastOplogTime();
      Document reply = super.handleCommand(channel, database, command, query);
      if (reply.get("cursor") instanceof Document cursor) {
        if (opens && cursor.get("id") instanceof Long id && id != 0) changeStreamCursors.add(id);
        Object batch = cursor.containsKey("firstBatch") ? cursor.get("firstBatch") : cursor.get("nextBatch");
        if (batch instanceof List<?> events) {
          Object token = events.isEmpty() ? new Document("_data", new OplogPosition(before).toHexString())
              : ((Document) events.get(events.size() - 1)).get("_id");
          cursor.put("postBatchResumeToken", token);
        }
      }
      return reply;
    }

    private BsonTimestamp lastOplogTime() {
      MongoCollection<?> oplog = resolveDatabase("local").resolveCollection("oplog.rs", false);
      if (oplog == null) return started;
      return oplog.queryAllAsStream().map(d -> (BsonTimestamp) ((Document) d).get("ts")).max(BsonTimestamp::compareTo).orElse(started);
    }

    @Override
    protected Oplog createOplog() {
      Oplog inner = super.createOplog();
      // The writes to the oplog are synchronized: 1.46.0 takes an entry's timestamp, then adds the
      // entry, and two clients writing to different collections can add them in the other order. A
      // stream that reads between the two moves past the later timestamp and never sees the earlier.
      return new Oplog() {
        @Override
        public synchronized void handleInsert(String namespace, List<Document> documents) {
          inner.handleInsert(namespace, documents);
        }

        // 1.46.0 gives an update event the update itself as its documentKey (not {_id}); recording
        // each update with the document's _id in it makes documentKey._id right.
        @Override
        public synchronized void handleUpdate(String namespace, Document selector, Document update, List<Object> ids) {
          for (Object id : ids) inner.handleUpdate(namespace, selector, new Document(update).append("_id", id), List.of(id));
        }

        @Override
        public synchronized void handleDelete(String namespace, Document query, List<Object> ids) {
          inner.handleDelete(namespace, query, ids);
        }

        @Override
        public synchronized void handleDropCollection(String namespace) {
          inner.handleDropCollection(namespace);
        }

        // A resume point from before this server started (another server's: the data and oplog are
        // in memory) is refused as MongoDB refuses one it no longer has; 1.46.0 resumed from it.
        // 1.46.0 also answers resumeAfter with an invalidate when the collection was dropped at any
        // time before the token, even if it was created again since: a stream of a collection that
        // was ever dropped could never be resumed. MongoDB resumes it (a drop after the token is still
        // seen); startAfter starts from the same position without that check.
        @Override
        public Cursor createCursor(Document changeStream, String namespace, Aggregation aggregation) {
          if (changeStream.get("resumeAfter") instanceof Document token) {
            if (new OplogPosition(started).isAfter(OplogPosition.fromDocument(token)))
              throw new MongoServerError(286, "ChangeStreamHistoryLost", "Resume of change stream was not possible, as the resume point may no longer be in the oplog");
            changeStream = new Document(changeStream);
            changeStream.remove("resumeAfter");
            changeStream.put("startAfter", token);
          }
          return inner.createCursor(changeStream, namespace, aggregation);
        }
      };
    }
  }

  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: java -jar mongo-cs-server.jar <port>");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    Backend backend = new Backend();
    backend.version(VERSION);
    MongoServer server = new MongoServer(backend);
    server.enableOplog();
    server.bind("127.0.0.1", port);
    System.out.println("mongo-java-server listening on 127.0.0.1:" + port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
  }
}
