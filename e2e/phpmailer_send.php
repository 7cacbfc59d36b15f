<?php
// Sends one message with PHPMailer over SMTP, the way WordPress / WP Mail SMTP does.
// Usage: php phpmailer_send.php '<json options>'
//   host, port, user, pass, from, to[], cc[], bcc[], subject, body,
//   secure: "" (plain; SMTPAutoTLS off) | "tls" (STARTTLS) | "ssl" (implicit TLS), verify: bool
// Prints JSON {"message_id"} on success; on failure the error on stderr, exit 1.
// The SMTP transcript (PHPMailer debug level 2, "SERVER -> CLIENT: ..." lines) goes to stderr:
// the test reads the relay's final-dot reply from it.

use PHPMailer\PHPMailer\PHPMailer;
use PHPMailer\PHPMailer\SMTP;
use PHPMailer\PHPMailer\Exception;

require getenv('PHPMAILER_AUTOLOAD') ?: '/usr/share/php/libphp-phpmailer/autoload.php';

$o = json_decode($argv[1], true, 512, JSON_THROW_ON_ERROR);

$mail = new PHPMailer(true);
try {
    $mail->isSMTP();
    $mail->Host = $o['host'];
    $mail->Port = (int)$o['port'];
    $mail->SMTPAuth = true;
    $mail->Username = $o['user'];
    $mail->Password = $o['pass'];
    $mail->Timeout = 30;
    $mail->SMTPSecure = $o['secure'] ?? '';
    // Off: otherwise PHPMailer upgrades to STARTTLS on its own whenever it is offered.
    $mail->SMTPAutoTLS = false;
    if (!($o['verify'] ?? true)) {
        $mail->SMTPOptions = ['ssl' => [
            'verify_peer' => false, 'verify_peer_name' => false, 'allow_self_signed' => true,
        ]];
    }
    $mail->SMTPDebug = SMTP::DEBUG_SERVER;
    $mail->Debugoutput = function ($text, $level) { fwrite(STDERR, $text); };

    $mail->CharSet = PHPMailer::CHARSET_UTF8;
    $mail->setFrom($o['from'], 'PHPMailer Site');
    foreach ($o['to'] ?? [] as $a) { $mail->addAddress($a); }
    foreach ($o['cc'] ?? [] as $a) { $mail->addCC($a); }
    foreach ($o['bcc'] ?? [] as $a) { $mail->addBCC($a); }
    $mail->Subject = $o['subject'];
    $mail->Body = $o['body'];

    $mail->send();
    echo json_encode(['message_id' => $mail->getLastMessageID()]), "\n";
} catch (Exception $e) {
    fwrite(STDERR, "PHPMailer error: " . $mail->ErrorInfo . "\n");
    exit(1);
}
