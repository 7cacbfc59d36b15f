<?php
use PHPUnit\Framework\TestCase;

final class StatusTest extends TestCase {

	const BASE = 'http://127.0.0.1:8025';

	private static function fixture( $name ) {
		return array( 'code' => 200, 'body' => file_get_contents( dirname( __DIR__ ) . '/fixtures/' . $name ), 'error' => '' );
	}

	public function test_a_healthy_relay() {
		$s = Gmail_Relay_Bridge_Status::from_results( self::BASE . '/', self::fixture( 'status-ok.json' ), array( 'code' => 200, 'body' => '[]', 'error' => '' ), 1000 );
		$this->assertTrue( $s->reachable );
		$this->assertSame( 'http://127.0.0.1:8025/api/status', $s->url );
		$this->assertCount( 1, $s->accounts );
		$this->assertSame( 'ok', $s->accounts[0]['state'] );
		$this->assertNull( $s->accounts[0]['problem'] );
		$this->assertSame( 12, $s->queue['sent_24h'] );
		$this->assertSame( array(), $s->failures );
		$this->assertFalse( $s->needs_attention() );
	}

	public function test_an_account_that_needs_reauthorization_with_held_mail() {
		$s = Gmail_Relay_Bridge_Status::from_results( self::BASE, self::fixture( 'status-needs-reauth.json' ), self::fixture( 'messages-failed.json' ), 1000 );
		$this->assertTrue( $s->needs_attention() );
		$attention = $s->accounts_needing_attention();
		$this->assertCount( 1, $attention );
		$this->assertSame( 'main', $attention[0]['name'] );
		$this->assertSame( 'grant_revoked', $attention[0]['problem']['code'] );
		$this->assertCount( 3, $attention[0]['problem']['steps'] );
		$this->assertCount( 2, $attention[0]['problem']['causes'] );
		$this->assertNull( $attention[0]['warning'] );
		$this->assertStringContainsString( 'Testing mode', $s->accounts[1]['warning']['text'] );
		$this->assertSame( '2026-12-04T09:00:00Z', $s->accounts[1]['warning']['expires_at'] );
		$this->assertSame( '', $attention[0]['token_expires_at'], 'JSON null reads as empty' );
		$this->assertSame( 3, $s->queue['held'] );
		$this->assertCount( 2, $s->failures );
		$this->assertSame( 17, $s->failures[0]['id'] );
		$this->assertSame( array( 'bad@@example.com' ), $s->failures[0]['recipients'] );
		$this->assertSame( 'invalid_recipient', $s->failures[0]['problem'] );
	}

	public function test_held_mail_alone_needs_attention() {
		$body = json_encode( array( 'accounts' => array( array( 'name' => 'a', 'state' => 'ok' ) ), 'queue' => array( 'held' => 1 ) ) );
		$s    = Gmail_Relay_Bridge_Status::from_results( self::BASE, array( 'code' => 200, 'body' => $body, 'error' => '' ), null, 0 );
		$this->assertTrue( $s->needs_attention() );
		$this->assertSame( array(), $s->accounts_needing_attention() );
	}

	public function test_a_wrapped_message_list_is_read_too() {
		$list = json_decode( self::fixture( 'messages-failed.json' )['body'], true );
		$s    = Gmail_Relay_Bridge_Status::from_results( self::BASE, self::fixture( 'status-ok.json' ), array( 'code' => 200, 'body' => json_encode( array( 'messages' => $list ) ), 'error' => '' ), 0 );
		$this->assertCount( 2, $s->failures );
		$this->assertSame( '', $s->failures_error );
	}

	public function test_unknown_states_and_odd_values_do_not_break_reading() {
		$body = json_encode( array( 'accounts' => array( array( 'name' => array( 'x' ), 'state' => 'exploded', 'problem' => array( 'steps' => array( 'a', array( 'b' ), 3 ) ) ), 'junk' ) ) );
		$s    = Gmail_Relay_Bridge_Status::from_results( self::BASE, array( 'code' => 200, 'body' => $body, 'error' => '' ), null, 0 );
		$this->assertTrue( $s->reachable );
		$this->assertCount( 1, $s->accounts );
		$this->assertSame( 'unknown', $s->accounts[0]['state'] );
		$this->assertSame( '', $s->accounts[0]['name'] );
		$this->assertSame( array( 'a', '3' ), $s->accounts[0]['problem']['steps'] );
	}

	/**
	 * @dataProvider unreachable
	 */
	public function test_an_unusable_answer_says_why_and_which_url( $result, $phrase ) {
		$s = Gmail_Relay_Bridge_Status::from_results( self::BASE, $result, null, 0 );
		$this->assertFalse( $s->reachable );
		$this->assertFalse( $s->needs_attention() );
		$this->assertStringContainsString( 'http://127.0.0.1:8025/api/status', $s->error );
		$this->assertStringContainsString( $phrase, $s->error );
	}

	public function unreachable() {
		return array(
			'connection refused' => array( array( 'code' => 0, 'body' => '', 'error' => 'cURL error 7: Failed to connect' ), 'could not be reached' ),
			'token refused'      => array( array( 'code' => 401, 'body' => '{}', 'error' => '' ), 'refused the token (HTTP 401). Set GMAIL_RELAY_READ_TOKEN' ),
			'no such path'       => array( array( 'code' => 404, 'body' => 'Not Found', 'error' => '' ), 'HTTP 404' ),
			'server error'       => array( array( 'code' => 500, 'body' => '', 'error' => '' ), 'HTTP 500' ),
			'not our JSON'       => array( array( 'code' => 200, 'body' => '<html>router login</html>', 'error' => '' ), 'not with gmail-relay' ),
		);
	}

	public function test_a_failing_message_list_keeps_the_account_status() {
		$s = Gmail_Relay_Bridge_Status::from_results( self::BASE, self::fixture( 'status-ok.json' ), array( 'code' => 500, 'body' => '', 'error' => '' ), 0 );
		$this->assertTrue( $s->reachable );
		$this->assertStringContainsString( '/api/messages?status=failed', $s->failures_error );
		$s = Gmail_Relay_Bridge_Status::from_results( self::BASE, self::fixture( 'status-ok.json' ), array( 'code' => 200, 'body' => '{"a":1}', 'error' => '' ), 0 );
		$this->assertStringContainsString( 'did not answer with a list', $s->failures_error );
	}

	public function test_each_accounts_own_mail_and_the_account_for_an_address() {
		$s = Gmail_Relay_Bridge_Status::from_results( self::BASE, self::fixture( 'status-needs-reauth.json' ), null, 1000 );
		$main = $s->account_with_email( ' Owner@Example.com ' );
		$this->assertNotNull( $main );
		$this->assertSame( 'main', $main['name'] );
		$this->assertSame( array( 'queued' => 0, 'held' => 3, 'failed' => 2 ), $main['messages'] );
		$this->assertSame( 'alerts', $s->account_with_email( 'alerts@example.com' )['name'] );
		$this->assertNull( $s->account_with_email( 'nobody@example.com' ) );
		$this->assertNull( $s->account_with_email( '' ) );

		$odd = Gmail_Relay_Bridge_Status::from_results(
			self::BASE,
			array( 'code' => 200, 'body' => '{"accounts":[{"name":"a","messages":{"held":"x","failed":-4,"queued":[1]}},{"name":"b","messages":"many"}]}', 'error' => '' ),
			null,
			1000
		);
		$this->assertSame( array( 'queued' => 0, 'held' => 0, 'failed' => 0 ), $odd->accounts[0]['messages'] );
		$this->assertSame( array( 'queued' => 0, 'held' => 0, 'failed' => 0 ), $odd->accounts[1]['messages'] );
	}
}
